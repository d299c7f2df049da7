"""Seed 004's users, calling user.UserService from Python: stubs generated from proto/user.proto now,
by grpcio-tools. Prints what each call answered, as JSON, for the Rust test to judge."""
import json, os, subprocess, sys, tempfile

import grpc
from grpc_tools import protoc

proto = os.environ["PROTO"]
out = tempfile.mkdtemp()
args = ["protoc", f"-I{os.path.dirname(proto)}", f"--python_out={out}", f"--grpc_python_out={out}", proto]
assert protoc.main(args) == 0, "protoc failed"
sys.path.insert(0, out)
import user_pb2 as pb, user_pb2_grpc as rpc  # noqa: E402

addr, uid = os.environ["GRPC_ADDR"], os.environ["USER_ID"]
stub = rpc.UserServiceStub(grpc.insecure_channel(addr))
key = (("x-api-key", os.environ["API_KEY"]),)
user = lambda u: {f: getattr(u, f) for f in ("id", "username", "tenant_id", "first_name", "last_name", "full_name", "is_active")}
page = lambda r: {"total": r.total, "page": r.page, "page_size": r.page_size, "usernames": [u.username for u in r.users]}

def error(call):
    try:
        call()
        return None
    except grpc.RpcError as e:
        md = dict(e.trailing_metadata() or ())
        return {"code": e.code().name, "error_code": md.get("error-code"), "request_id": md.get("x-request-id", "")}

r = {
    "list": subprocess.run([os.environ["GRPCURL"], "-plaintext", addr, "list"], capture_output=True, text=True, check=True).stdout.split(),
    "get": user(stub.GetUser(pb.GetUserRequest(user_id=uid), metadata=key).user),
    "list_users": page(stub.ListUsers(pb.ListUsersRequest(tenant_id=os.environ["TENANT"], page=1, page_size=10), metadata=key)),
    "search": page(stub.SearchUsers(pb.SearchUsersRequest(query="ali"), metadata=key)),
    "update": user(stub.UpdateUser(pb.UpdateUserRequest(user_id=uid, first_name="Ada", last_name=""), metadata=key).user),
    "delete": stub.DeleteUser(pb.DeleteUserRequest(user_id=uid), metadata=key).message,
}
r["after_delete"] = user(stub.GetUser(pb.GetUserRequest(user_id=uid), metadata=key).user)
r["delete_again"] = error(lambda: stub.DeleteUser(pb.DeleteUserRequest(user_id=uid), metadata=key))
r["no_credentials"] = error(lambda: stub.GetUser(pb.GetUserRequest(user_id=uid)))
print(json.dumps(r))
