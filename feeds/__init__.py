"""Syndication feeds: RSS 2.0 and Atom 1.0 through feedgen, JSON Feed 1.1, RFC 5005 archives."""
