$( A block that is never closed $)
$[ good_part.mm $]
${
  th.1 $e |- ph $.
  th $p |- ph $= th.1 $.
