"""The HTTP app behind ``broadsheet serve``: feeds, the web archive, subscription pages."""
