; C++ tags for codemem, on top of c.scm. Out-of-line definitions `void Class::method()` get
; their class from @scope: `Class.method`.

(class_specifier name: (type_identifier) @name body: (field_declaration_list) @body) @definition.class
(struct_specifier
  name: (template_type name: (type_identifier) @name) body: (field_declaration_list) @body) @definition.struct
(class_specifier
  name: (template_type name: (type_identifier) @name) body: (field_declaration_list) @body) @definition.class
(namespace_definition name: [(namespace_identifier) (nested_namespace_specifier)] @name
  body: (declaration_list) @body) @definition.namespace
(alias_declaration name: (type_identifier) @name) @definition.type
(concept_definition name: (identifier) @name) @definition.type

; inline member functions, operators, destructors
(function_definition
  declarator: [(function_declarator
                 declarator: [(field_identifier) (destructor_name) (operator_name)] @name)
               (pointer_declarator
                 declarator: (function_declarator declarator: (field_identifier) @name))
               (reference_declarator
                 (function_declarator declarator: [(field_identifier) (operator_name)] @name))]
  body: (_) @body) @definition.function
(function_definition
  declarator: (function_declarator declarator: (operator_name) @name)
  body: (_) @body) @definition.function

; member function declarations in a class body
(field_declaration_list
  (field_declaration
    declarator: [(function_declarator declarator: [(field_identifier) (operator_name)] @name)
                 (pointer_declarator declarator: (function_declarator declarator: (field_identifier) @name))
                 (reference_declarator (function_declarator declarator: (field_identifier) @name))])
    @definition.method)
(field_declaration_list
  (declaration
    declarator: (function_declarator declarator: [(identifier) (destructor_name)] @name))
    @definition.method)

; Class::method out of line
(function_definition
  declarator: [(function_declarator
                 declarator: (qualified_identifier
                   scope: (_) @scope
                   name: [(identifier) (destructor_name) (operator_name) (field_identifier)] @name))
               (pointer_declarator
                 declarator: (function_declarator
                   declarator: (qualified_identifier scope: (_) @scope name: (identifier) @name)))
               (reference_declarator
                 (function_declarator
                   declarator: (qualified_identifier scope: (_) @scope name: (identifier) @name)))]
  body: (_) @body) @definition.function

; References
(call_expression function: (qualified_identifier name: (identifier) @reference.call))
(call_expression function: (template_function name: (identifier) @reference.call))
(call_expression
  function: (field_expression field: (template_method name: (field_identifier) @reference.call)))
(new_expression type: (type_identifier) @reference.type)

; Imports
(using_declaration (qualified_identifier) @import)
(using_declaration (identifier) @import)
