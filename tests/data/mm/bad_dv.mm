$( ax-17 needs $d x y here, and the theorem does not declare it $)
$[ good_part.mm $]
ax17eq $p |- ( y = y -> A. x y = y ) $=
  vy vy weq vx ax-17 $.
