; Python tags for codemem. The capture conventions, shared by every queries/*.scm:
;   @definition.<kind>  the definition node (its span; decorators, `export` and template
;                       wrappers around it are added by the parser)
;   @name               the definition's name (a match without it is not a definition)
;   @body               optional: the body; the signature is the text before it, and an
;                       outline elides it
;   @doc                optional: a docstring node (else the comment block above is used)
;   @scope              optional: an explicit owner, e.g. a Go receiver type or the `Class`
;                       of C++ `Class::method`, prefixed to the qualified name
;   @reference.call / @reference.type / @reference.ref   a used name
;   @import             an import/include/use target, as written
; Captures starting with "_" are helpers for predicates and are ignored. Qualified names
; come from the nesting of definition spans.

(class_definition
  name: (identifier) @name
  body: (block . (expression_statement (string) @doc)?) @body) @definition.class

(function_definition
  name: (identifier) @name
  body: (block . (expression_statement (string) @doc)?) @body) @definition.function

(module
  (expression_statement
    (assignment left: (identifier) @name)) @definition.variable)

(class_definition
  body: (block
    (expression_statement
      (assignment left: (identifier) @name)) @definition.field))

; References
(call function: (identifier) @reference.call)
(call function: (attribute attribute: (identifier) @reference.call))
(decorator (identifier) @reference.call)
(decorator (attribute attribute: (identifier) @reference.call))
(class_definition superclasses: (argument_list (identifier) @reference.type))
(class_definition superclasses: (argument_list (attribute attribute: (identifier) @reference.type)))
(type (identifier) @reference.type)
(generic_type (identifier) @reference.type)
(except_clause (identifier) @reference.type)

; Imports
(import_statement name: (dotted_name) @import)
(import_statement name: (aliased_import name: (dotted_name) @import))
(import_from_statement module_name: (_) @import)
