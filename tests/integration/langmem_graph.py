"""LangMem's own memory tools, with the namespace its docs write, run by a ToolNode in a
compiled graph over PymemStore: no model is called (the graph's only node is the ToolNode,
fed the tool calls an LLM would have made). test_langgraph_store.py runs it on the test
database; tests/firstrun runs this file as a script with a clean venv's python, where it
connects as the README does (pymem.connect()) and imports only the installed wheel and its
extras (no pytest)."""

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langmem import create_manage_memory_tool, create_search_memory_tool

from pymem.integrations.langgraph import PymemStore


def check_langmem_tools(tenant) -> None:
    """What manage_memory stores is hana's, search_memory finds it, erase_user removes it.
    `tenant` has no users yet."""
    tools = [create_manage_memory_tool(namespace=("memories", "{langgraph_user_id}")),
             create_search_memory_tool(namespace=("memories", "{langgraph_user_id}"))]
    builder = StateGraph(MessagesState)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile(store=PymemStore(tenant, user_from=1))

    def call(tool: str, args: dict, user: str) -> str:
        message = AIMessage(content="", tool_calls=[{"name": tool, "args": args, "id": "call-1"}])
        result = graph.invoke({"messages": [message]}, {"configurable": {"langgraph_user_id": user}})
        return result["messages"][-1].content

    assert "created" in call("manage_memory", {"content": "Hana is vegan", "action": "create"}, "hana")
    call("manage_memory", {"content": "Ivan eats fish", "action": "create"}, "ivan")
    assert [m.content for m in tenant.list("hana")] == ["Hana is vegan"]
    assert "Hana is vegan" in call("search_memory", {"query": "vegan"}, "hana")
    assert "Hana is vegan" not in call("search_memory", {"query": "vegan"}, "ivan")
    assert tenant.retrieve("hana", "vegan") == []  # a store item, not conversational memory
    tenant.erase_user("hana")
    assert "Hana is vegan" not in call("search_memory", {"query": "vegan"}, "hana")
    assert [m.content for m in tenant.list("ivan")] == ["Ivan eats fish"]


if __name__ == "__main__":
    import sys

    import pymem

    client = pymem.connect()
    client.create_tenant(sys.argv[1])
    check_langmem_tools(client.tenant(sys.argv[1]))
    client.close()
    print("langmem tools: stored, found, erased")
