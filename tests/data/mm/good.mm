$( good.mm: a tiny propositional logic with a quantifier, for the tests.
   It has a normal proof, a compressed proof with Z tags, a $d condition, a block
   with an $e hypothesis, and an inclusion (good_part.mm holds the axioms). $)

$[ good_part.mm $]

$( The identity, normal proof $)
id $p |- ( ph -> ph ) $=
  wph wph wph wi wi wph wph wi wph wph ax-1 wph wph wph wi wph wi wi wph wph
  wph wi wi wph wph wi wi wph wph wph wi ax-1 wph wph wph wi wph ax-2 ax-mp
  ax-mp $.

${
  a1i.1 $e |- ph $.
  $( A compressed proof $)
  a1i $p |- ( ps -> ph ) $=
    ( wi ax-1 ax-mp ) ABADCABEF $.
$}

${
  $d x y $.
  $( Needs the $d condition of ax-17 $)
  ax17eq $p |- ( y = y -> A. x y = y ) $=
    vy vy weq vx ax-17 $.
$}

$( The identity again, compressed with Z (reused steps) $)
idz $p |- ( ph -> ph ) $=
  ( wi ax-1 ax-mp ax-2 ) AAABZBZFAACAFABBGFBAFCAFAEDD $.
$[ good_part.mm $]
