"""Block Kit builders: typed answers, proposals, progress and the Home tab turned into Slack messages.

Every builder goes through slack_sdk's block models, which carry Slack's per-block limits, so a
rendering bug fails here, in a test, instead of as `invalid_blocks` in front of an on-call engineer.
"""
