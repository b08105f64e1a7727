-- wrk script: POST small ConfigMaps with generateName, so every request creates a new object.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"bench-"},"data":{"key":"value","other":"a small configuration value"}}'
