"""Selection (new articles, top reads), jobs, and the loop that runs them on time."""
