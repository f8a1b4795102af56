; Rust tags for codemem. See python.scm for the capture conventions. Functions inside
; `impl Type { ... }` nest under the impl, whose name is the type: `Type.method`.

(function_item name: (identifier) @name body: (block) @body) @definition.function
(function_signature_item name: (identifier) @name) @definition.function
(struct_item name: (type_identifier) @name body: (_) @body) @definition.struct
(struct_item name: (type_identifier) @name !body) @definition.struct
(union_item name: (type_identifier) @name body: (_) @body) @definition.struct
(enum_item name: (type_identifier) @name body: (_) @body) @definition.enum
(trait_item name: (type_identifier) @name body: (_) @body) @definition.trait
(impl_item
  type: [(type_identifier) @name
         (generic_type type: (type_identifier) @name)
         (generic_type type: (scoped_type_identifier name: (type_identifier) @name))
         (scoped_type_identifier name: (type_identifier) @name)
         (reference_type type: (type_identifier) @name)]
  body: (declaration_list) @body) @definition.impl
(type_item name: (type_identifier) @name) @definition.type
[(const_item name: (identifier) @name) (static_item name: (identifier) @name)] @definition.constant
(mod_item name: (identifier) @name body: (declaration_list) @body) @definition.module
(macro_definition name: (identifier) @name) @definition.macro
(field_declaration_list (field_declaration name: (field_identifier) @name) @definition.field)

; References
(call_expression function: (identifier) @reference.call)
(call_expression function: (field_expression field: (field_identifier) @reference.call))
(call_expression function: (scoped_identifier name: (identifier) @reference.call))
(call_expression function: (generic_function function: (identifier) @reference.call))
(call_expression
  function: (generic_function function: (field_expression field: (field_identifier) @reference.call)))
(call_expression
  function: (generic_function function: (scoped_identifier name: (identifier) @reference.call)))
(macro_invocation macro: (identifier) @reference.call)
((type_identifier) @reference.type (#not-eq? @reference.type "Self"))

; Imports
(use_declaration argument: [(scoped_identifier) (identifier) (crate) (self) (super)] @import)
(use_declaration argument: (scoped_use_list path: (_) @import))
(use_declaration argument: (use_as_clause path: (_) @import))
(use_declaration argument: (use_wildcard (_) @import))
(extern_crate_declaration name: (identifier) @import)
(mod_item name: (identifier) @import !body)
