$( A statement with an undeclared symbol $)
$[ good_part.mm $]
th $a |- ( ph -> zz ) $.
