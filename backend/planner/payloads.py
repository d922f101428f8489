"""One function per cached read. Each returns exactly the JSON-ready dict the API answers with, so a
cache hit is served as stored. Query counts do not grow with the size of the answer."""
