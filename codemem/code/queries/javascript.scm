; JavaScript (and JSX) tags for codemem. See python.scm for the capture conventions.

(class_declaration name: (identifier) @name body: (class_body) @body) @definition.class

(function_declaration name: (identifier) @name body: (statement_block) @body) @definition.function
(generator_function_declaration
  name: (identifier) @name body: (statement_block) @body) @definition.function

(method_definition
  name: [(property_identifier) (private_property_identifier)] @name
  body: (statement_block) @body) @definition.method

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
(field_definition
  property: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)]) @definition.function
(field_definition property: [(property_identifier) (private_property_identifier)] @name) @definition.field

; exports.f = function () {}; Foo.prototype.bar = () => {}
(expression_statement
  (assignment_expression
    left: (member_expression property: (property_identifier) @name)
    right: [(arrow_function body: (_) @body) (function_expression body: (_) @body)])) @definition.function

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
(class_heritage (identifier) @reference.type)
(class_heritage (member_expression property: (property_identifier) @reference.type))

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
