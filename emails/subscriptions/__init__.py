"""Subscriptions: the subscribe, confirm, unsubscribe and preferences flows the web app calls."""
