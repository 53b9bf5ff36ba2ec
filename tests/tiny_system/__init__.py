"""A tiny formal system that lives outside hyperprover, to show that a new system is one package plus one line:
`HYPERPROVER_SYSTEMS=tiny_system` (with this folder's parent on PYTHONPATH) makes train, eval and online take
`--env tiny` and `--tiny.*` without any other file changed."""
