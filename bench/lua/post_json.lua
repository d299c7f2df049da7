-- POST the body in the BODY environment variable (JSON unless CONTENT_TYPE says otherwise).
wrk.method = "POST"
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json"
wrk.body = os.getenv("BODY")
