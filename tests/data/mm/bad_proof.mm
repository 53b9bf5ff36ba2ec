$( A proof whose hypotheses are given in the wrong order $)
$[ good_part.mm $]
${
  a1i.1 $e |- ph $.
  a1i $p |- ( ps -> ph ) $=
    wph wps wph wi wph wps ax-1 a1i.1 ax-mp $.
$}
