$( An incomplete proof, in both formats $)
$[ good_part.mm $]
th1 $p |- ( ph -> ( ps -> ph ) ) $= ? $.
th2 $p |- ( ph -> ( ps -> ph ) ) $= ( ax-1 ) A?C $.
