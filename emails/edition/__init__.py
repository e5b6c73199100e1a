"""The edition: render once, inline the CSS once, personalise per reader, build MIME."""
