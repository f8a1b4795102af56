; TypeScript and TSX tags for codemem. See python.scm for the capture conventions.

[(class_declaration name: (type_identifier) @name body: (class_body) @body)
 (abstract_class_declaration name: (type_identifier) @name body: (class_body) @body)] @definition.class
(interface_declaration name: (type_identifier) @name body: (_) @body) @definition.interface
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name body: (enum_body) @body) @definition.enum
(internal_module name: [(identifier) (nested_identifier)] @name body: (statement_block) @body) @definition.namespace
(module name: [(identifier) (nested_identifier) (string)] @name body: (statement_block) @body) @definition.module

(function_declaration name: (identifier) @name body: (statement_block) @body) @definition.function
(generator_function_declaration
  name: (identifier) @name body: (statement_block) @body) @definition.function
(function_signature name: (identifier) @name) @definition.function

(method_definition
  name: [(property_identifier) (private_property_identifier)] @name
  body: (statement_block) @body) @definition.method
[(method_signature name: (property_identifier) @name)
 (abstract_method_signature name: (property_identifier) @name)] @definition.method

; const f = () => {...}; const f = function () {...}; const C = class {...}
(lexical_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function body: (_) @body)
            (function_expression body: (_) @body)
            (generator_function body: (_) @body)])) @definition.function
(variable_declaration
  (variable_declarator
    name: (identifier) @name
    value: [(arrow_function body: (_) @body)
            (function_expression body: (_) @body)
            (generator_function body: (_) @body)])) @definition.function
(lexical_declaration
  (variable_declarator
    name: (identifier) @name value: (class body: (class_body) @body))) @definition.class

; object members and class fields holding functions: { f() {}, g: () => {} }
(pair
  key: (property_identifier) @name
  value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)]) @definition.function
(public_field_definition
  name: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)]) @definition.function
(public_field_definition name: [(property_identifier) (private_property_identifier)] @name) @definition.field
(interface_body (property_signature name: (property_identifier) @name) @definition.field)

; top-level variables
(program
  [(lexical_declaration (variable_declarator name: (identifier) @name))
   (variable_declaration (variable_declarator name: (identifier) @name))] @definition.variable)
(program
  (export_statement
    declaration: (lexical_declaration (variable_declarator name: (identifier) @name)) @definition.variable))

; References
(call_expression function: (identifier) @reference.call)
(call_expression function: (member_expression property: (property_identifier) @reference.call))
(new_expression constructor: (identifier) @reference.type)
(new_expression constructor: (member_expression property: (property_identifier) @reference.type))
(extends_clause value: (identifier) @reference.type)
(extends_clause value: (member_expression property: (property_identifier) @reference.type))
((type_identifier) @reference.type (#not-match? @reference.type "^[A-Z]$"))

; Imports
(import_statement source: (string (string_fragment) @import))
(export_statement source: (string (string_fragment) @import))
(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string (string_fragment) @import))
  (#eq? @_require "require"))
(call_expression
  function: (import)
  arguments: (arguments . (string (string_fragment) @import)))
