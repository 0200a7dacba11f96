"""Where agents live: each module adapts pymem to one framework and imports it only when used.

  mcp.py        the MCP server (`pymem mcp`): memory tools for any MCP client      extra [mcp]
  langgraph.py  a LangGraph BaseStore over one tenant                                extra [langgraph]
  langchain.py  a LangChain retriever                                                extra [langchain]
  llamaindex.py a LlamaIndex memory block                                            extra [llamaindex]

Each is bound to one tenant when it is built (a client's TenantClient, or an API key for
the MCP server); none takes a tenant id from the model or the framework's arguments.
"""
