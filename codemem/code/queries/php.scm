; PHP tags for codemem. See python.scm for the capture conventions.

(namespace_definition name: (namespace_name) @name body: (compound_statement) @body) @definition.namespace
(namespace_definition name: (namespace_name) @name !body) @definition.namespace
(class_declaration name: (name) @name body: (declaration_list) @body) @definition.class
(interface_declaration name: (name) @name body: (declaration_list) @body) @definition.interface
(trait_declaration name: (name) @name body: (declaration_list) @body) @definition.trait
(enum_declaration name: (name) @name body: (enum_declaration_list) @body) @definition.enum
(function_definition name: (name) @name body: (compound_statement) @body) @definition.function
(method_declaration name: (name) @name body: (compound_statement) @body) @definition.method
(method_declaration name: (name) @name !body) @definition.method
(const_declaration (const_element (name) @name)) @definition.constant
(property_declaration (property_element name: (variable_name (name) @name))) @definition.field

; References
(function_call_expression function: (name) @reference.call)
(function_call_expression function: (qualified_name (name) @reference.call .))
(member_call_expression name: (name) @reference.call)
(nullsafe_member_call_expression name: (name) @reference.call)
(scoped_call_expression name: (name) @reference.call)
(scoped_call_expression scope: (name) @reference.type)
(object_creation_expression (name) @reference.type)
(object_creation_expression (qualified_name (name) @reference.type .))
(base_clause (name) @reference.type)
(base_clause (qualified_name (name) @reference.type .))
(class_interface_clause (name) @reference.type)
(named_type (name) @reference.type)
(named_type (qualified_name (name) @reference.type .))

; Imports
(namespace_use_clause [(qualified_name) (name)] @import)
(namespace_use_declaration (namespace_name) @import)
(require_expression [(string (string_content) @import)
  (binary_expression right: (string (string_content) @import))])
(require_once_expression [(string (string_content) @import)
  (binary_expression right: (string (string_content) @import))])
(include_expression [(string (string_content) @import)
  (binary_expression right: (string (string_content) @import))])
(include_once_expression [(string (string_content) @import)
  (binary_expression right: (string (string_content) @import))])
