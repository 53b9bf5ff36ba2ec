$( Axioms included by good.mm $)
$c ( ) -> wff |- A. setvar = $.
$v ph ps ch x y $.
wph $f wff ph $.
wps $f wff ps $.
wch $f wff ch $.
vx $f setvar x $.
vy $f setvar y $.
wi $a wff ( ph -> ps ) $.
wal $a wff A. x ph $.
weq $a wff x = y $.
ax-1 $a |- ( ph -> ( ps -> ph ) ) $.
ax-2 $a |- ( ( ph -> ( ps -> ch ) ) -> ( ( ph -> ps ) -> ( ph -> ch ) ) ) $.
${
  min $e |- ph $.
  maj $e |- ( ph -> ps ) $.
  ax-mp $a |- ps $.
$}
${
  $d x ph $.
  ax-17 $a |- ( ph -> A. x ph ) $.
$}
${
  ax-gen.1 $e |- ph $.
  ax-gen $a |- A. x ph $.
$}
$( Included twice: the second inclusion must be ignored $)
