$( A setvar used where a wff is required $)
$[ good_part.mm $]
th $p |- ( ph -> ( x -> ph ) ) $=
  wph vx ax-1 $.
