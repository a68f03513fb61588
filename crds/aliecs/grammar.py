"""The lark grammar of the expr-lang subset AliECS templates use inside `{{ }}`.

Kept as Python text (not a package data file) so that it ships with the module.
"""

GRAMMAR = r"""
// The expr-lang subset AliECS templates use inside `{{ }}` (and a bit more).
// Precedence, loosest first: ?: , || or , && and , ! not , comparisons, + -, * / %,
// unary - +, ** (right), ??, postfix (member, call, index).

?start: ternary

?ternary: or_expr
        | or_expr "?" ternary ":" ternary          -> ternary

?or_expr: and_expr
        | or_expr ("||" | "or") and_expr           -> or_
?and_expr: not_expr
         | and_expr ("&&" | "and") not_expr        -> and_
?not_expr: compare
         | ("!" | "not") not_expr                  -> not_
?compare: sum
        | compare cmp_op sum                       -> compare
!cmp_op: "==" | "!=" | "<=" | ">=" | "<" | ">" | "in" | "contains" | "matches" | "startsWith"
       | "endsWith" | "not" "in" | "not" "contains" | "not" "matches" | "not" "startsWith"
       | "not" "endsWith"
?sum: product
    | sum add_op product                           -> arith
!add_op: "+" | "-"
?product: unary
        | product mul_op unary                     -> arith
!mul_op: "*" | "/" | "%"
?unary: power
      | sign unary                                 -> neg
?power: coalesce
      | coalesce "**" unary                        -> power
!sign: "-" | "+"
?coalesce: postfix
         | coalesce "??" postfix                   -> coalesce
?postfix: atom
        | postfix "." member                       -> getattr
        | postfix "(" [args] ")"                   -> call
        | postfix "[" ternary "]"                  -> getitem
        | postfix "[" [ternary] ":" [ternary] "]"  -> slice
!member: NAME | "in" | "not" | "and" | "or" | "contains" | "matches" | "startsWith"
       | "endsWith" | "true" | "false" | "nil"
args: ternary ("," ternary)* ","?
?atom: NAME                                        -> name
     | STRING                                      -> string
     | NUMBER                                      -> number
     | "true"                                      -> true
     | "false"                                     -> false
     | "nil"                                       -> nil
     | "[" [ternary ("," ternary)* ","?] "]"       -> array
     | "{" [pair ("," pair)* ","?] "}"             -> map
     | "(" ternary ")"
pair: (NAME | STRING | NUMBER) ":" ternary

NAME: /[A-Za-z_$][A-Za-z0-9_]*/
STRING: /"(\\.|[^"\\\n])*"/ | /'(\\.|[^'\\\n])*'/ | /`[^`]*`/
NUMBER: /0[xX][0-9a-fA-F_]+/ | /(\d[\d_]*)?\.\d[\d_]*([eE][+-]?\d+)?/ | /\d[\d_]*([eE][+-]?\d+)?/

%import common.WS
%ignore WS
"""
