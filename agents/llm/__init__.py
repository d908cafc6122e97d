"""The language-model layer: one door to LiteLLM, budgets, the quarantined reader and the tool-using planner.

Nothing here imports LiteLLM at module level: a bot without a configured model never loads it.
"""
