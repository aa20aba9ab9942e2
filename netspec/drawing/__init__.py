"""Drawing: the layout (torch- and graphviz-free) and its graphviz rendering."""
