-- GET with a namespace's service key from the KEY environment variable.
wrk.method = "GET"
wrk.headers["X-API-Key"] = os.getenv("KEY")
