; C tags for codemem (also loaded for C++, before cpp.scm). See python.scm for the capture
; conventions.

(function_definition
  declarator: [(function_declarator declarator: (identifier) @name)
               (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
               (pointer_declarator
                 declarator: (pointer_declarator
                   declarator: (function_declarator declarator: (identifier) @name)))]
  body: (compound_statement) @body) @definition.function

(struct_specifier name: (type_identifier) @name body: (field_declaration_list) @body) @definition.struct
(union_specifier name: (type_identifier) @name body: (field_declaration_list) @body) @definition.struct
(enum_specifier name: (type_identifier) @name body: (enumerator_list) @body) @definition.enum
(enumerator_list (enumerator name: (identifier) @name) @definition.constant)
(field_declaration_list
  (field_declaration
    declarator: [(field_identifier) @name
                 (pointer_declarator declarator: (field_identifier) @name)
                 (array_declarator declarator: (field_identifier) @name)]) @definition.field)

; typedef struct { ... } name;  (an anonymous struct takes the typedef's name)
(type_definition
  type: [(struct_specifier !name body: (_) @body) (union_specifier !name body: (_) @body)]
  declarator: (type_identifier) @name) @definition.struct
(type_definition
  type: (enum_specifier !name body: (_) @body)
  declarator: (type_identifier) @name) @definition.enum
; typedef struct node { ... } node_t;  (the struct is its own symbol; the alias is one name)
(type_definition
  type: [(struct_specifier name: (_) body: (_)) (union_specifier name: (_) body: (_))
         (enum_specifier name: (_) body: (_))]
  declarator: (type_identifier) @name @definition.type)
(type_definition
  type: [(primitive_type) (type_identifier) (sized_type_specifier)
         (struct_specifier !body) (union_specifier !body) (enum_specifier !body)]
  declarator: [(type_identifier) @name
               (pointer_declarator declarator: (type_identifier) @name)
               (function_declarator
                 declarator: (parenthesized_declarator
                   (pointer_declarator declarator: (type_identifier) @name)))]) @definition.type

; `#define NAME value` is a constant, as an enumerator is: data that stays in the module code
; around it (chunking.py), not a one-line chunk of its own. A register header is thousands of them.
; `#define NAME(args) body` is a macro: code, chunked like a function.
(preproc_def name: (identifier) @name value: (_)) @definition.constant
(preproc_function_def name: (identifier) @name) @definition.macro

; file-level variables (also inside include guards)
(translation_unit
  (declaration
    declarator: [(identifier) @name (init_declarator declarator: (identifier) @name)]) @definition.variable)
(preproc_ifdef
  (declaration
    declarator: [(identifier) @name (init_declarator declarator: (identifier) @name)]) @definition.variable)

; References
(call_expression function: (identifier) @reference.call)
(call_expression function: (field_expression field: (field_identifier) @reference.call))
; Type references: c_types.scm (C) and cpp_types.scm (C++).

; Imports
(preproc_include path: [(string_literal) (system_lib_string)] @import)
