; C++'s type references, after c.scm. The predicate stays here: cpp.scm's `new T` captures a
; one-capital name too, which the C++ index keeps (see c_types.scm).
((type_identifier) @reference.type (#not-match? @reference.type "^[A-Z]$"))
