"""Sample records of each input format, shared by the decoding tests."""

from __future__ import annotations

from tests.decoding.conftest import ISO

OTEL = {
    "timestamp": ISO,
    "http.request.method": "post",
    "url.path": "/v2/payments/42/refunds",
    "url.query": "a=1&b=2",
    "http.response.status_code": 502,
    "http.server.request.duration": 0.25,
    "client.address": "203.0.113.9",
    "user_agent.original": "curl/8",
    "service.name": "payments",
    "service.version": "2.32.0",
    "http.request.body.content": '{"amount": 5}',
    "http.response.body.size": 120,
    "request_id": "r-1",
}


NGINX = {
    "time_iso8601": "2026-03-17T10:06:00+01:00",
    "remote_addr": "10.0.0.2",
    "http_x_forwarded_for": "203.0.113.5, 10.0.0.7",
    "request": "get /api/users/7?expand=1 HTTP/1.1",
    "status": "201",
    "body_bytes_sent": "512",
    "request_time": "0.042",
    "upstream_response_time": "0.040",
    "http_user_agent": "okhttp",
    "request_body": "-",
}


ENVOY = {
    "start_time": "2026-03-17T09:06:00.000Z",
    "method": "DELETE",
    "path": "/carts/3?force=true",
    "protocol": "HTTP/2",
    "response_code": "503",
    "response_flags": "UF",
    "bytes_sent": "19",
    "duration": "1500",
    "upstream_service_time": "-",
    "x_forwarded_for": "192.0.2.44,10.1.1.1",
    "user_agent": "grpc-go",
    "request_id": "abc-123",
    "authority": "cart",
    "downstream_remote_address": "10.1.1.1:40000",
}


DEPLOY = {
    "type": "deployment",
    "timestamp": ISO,
    "service.name": "payments",
    "service.version": "2.32.0",
    "deployment.environment.name": "prod",
    "vcs.revision": "9f1c2ab",
}


ALB = (
    "https 2026-03-17T09:06:00.000000Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 "
    '0.001 0.048 0.000 200 200 34 366 "GET https://www.example.com:443/api/x?y=1 HTTP/1.1" '
    '"curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
    "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
    '"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:cert" 1 '
    '2026-03-17T09:05:59.950000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" '
    'TID_1 extra1 "extra 2"'
)


WSGI = (
    "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO "
    "nova.osapi_compute.wsgi.server [req-38101a0b-2096-447d-96ea-a692162415ae "
    "113d3a99c3da401fbd62cc2caa5b96d2 54fadb412c4e40cdbaed9335e4c35a9e - - -] 10.11.10.1 "
    '"GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail?all=1 HTTP/1.1" status: 200 '
    "len: 1893 time: 0.2477829"
)
