//! OpenAPI schemas of the built-in types and their patch metadata (merge keys, list types).
