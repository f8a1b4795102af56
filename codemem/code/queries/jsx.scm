; JSX component uses, shared by javascript and tsx (lower-case names are HTML elements).

(jsx_opening_element name: (identifier) @reference.call (#match? @reference.call "^[A-Z]"))
(jsx_self_closing_element name: (identifier) @reference.call (#match? @reference.call "^[A-Z]"))
(jsx_opening_element
  name: (member_expression property: (property_identifier) @reference.call))
(jsx_self_closing_element
  name: (member_expression property: (property_identifier) @reference.call))
