$( ax-17 applied with x substituted into both sides of its $d x ph $)
$[ good_part.mm $]
${
  $d x y $.
  ax17bad $p |- ( x = y -> A. x x = y ) $=
    vx vy weq vx ax-17 $.
$}
