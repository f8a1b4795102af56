; C's type references, after c.scm. A one-capital name (`T`) is no reference: syntax.py
; drops it (`ONE_CAPITAL_DROPPED`), where the predicate cpp_types.scm has costs a call of
; Python's re for every type name of the file (about 1.5 % of indexing a C file).
(type_identifier) @reference.type
