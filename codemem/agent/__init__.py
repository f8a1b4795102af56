"""The agent: providers, tools, context and the loop.

`codemem.agent.messages` holds the provider-neutral values; `codemem.agent.providers` turns
them into calls to Anthropic, OpenAI or any OpenAI-compatible server.
"""
