"""Who you are (identity, tokens, passwords) and what you may do (actions, policy)."""
