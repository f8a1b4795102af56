; Ruby tags for codemem. See python.scm for the capture conventions.

(module name: (constant) @name) @definition.module
(module name: (scope_resolution scope: (_) @scope name: (constant) @name)) @definition.module
(class name: (constant) @name) @definition.class
(class name: (scope_resolution scope: (_) @scope name: (constant) @name)) @definition.class
(method name: (_) @name) @definition.method
(singleton_method name: (_) @name) @definition.method
(assignment left: (constant) @name) @definition.constant

; References
(call method: (identifier) @reference.call)
(call receiver: (constant) @reference.type)
(superclass (constant) @reference.type)
(superclass (scope_resolution name: (constant) @reference.type))
(scope_resolution name: (constant) @reference.type)

; Imports
(call
  method: (identifier) @_method
  arguments: (argument_list . (string (string_content) @import))
  (#match? @_method "^(require|require_relative|load)$"))
