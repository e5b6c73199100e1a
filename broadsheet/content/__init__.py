"""Content import: Markdown with front matter, JSON Lines, RSS/Atom feeds, and the CSV files."""
