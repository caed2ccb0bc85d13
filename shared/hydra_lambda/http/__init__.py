"""HTTP glue: the resolver every function uses, form and auth parsing, response shaping."""
