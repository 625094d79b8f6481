"""`tunelake serve`: the recommendations API, the dashboard and the chatbot skill, in one
FastAPI app (`tunelake.service.api.create_app`). Every route calls a use case of
`tunelake.app`; the routes only parse, check access and render."""
