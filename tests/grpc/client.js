// Seed 004's users, calling user.UserService from Node.js as its document shows: @grpc/proto-loader
// loads proto/user.proto, @grpc/grpc-js calls. Prints what each call answered, as JSON.
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const def = protoLoader.loadSync(process.env.PROTO, { keepCase: true, defaults: true });
const proto = grpc.loadPackageDefinition(def).user;
const client = new proto.UserService(process.env.GRPC_ADDR, grpc.credentials.createInsecure());
const uid = process.env.USER_ID;
const key = new grpc.Metadata();
key.set('x-api-key', process.env.API_KEY);

// Resolves to the reply, or to the status code's name and the contract's error code.
const call = (rpc, req, md = key) => new Promise((resolve) => client[rpc](req, md, (err, res) => resolve(err
  ? { code: grpc.status[err.code], error_code: err.metadata.get('error-code')[0], request_id: err.metadata.get('x-request-id')[0] }
  : res)));
const user = (u) => ({ id: u.id, username: u.username, tenant_id: u.tenant_id, first_name: u.first_name, last_name: u.last_name, full_name: u.full_name, is_active: u.is_active });
const page = (r) => ({ total: r.total, page: r.page, page_size: r.page_size, usernames: r.users.map((u) => u.username) });

(async () => {
  const r = {};
  r.get = user((await call('GetUser', { user_id: uid })).user);
  r.list_users = page(await call('ListUsers', { tenant_id: process.env.TENANT, page: 1, page_size: 10 }));
  r.search = page(await call('SearchUsers', { query: 'ali' }));
  r.update = user((await call('UpdateUser', { user_id: uid, first_name: 'Ada', last_name: '' })).user);
  r.delete = (await call('DeleteUser', { user_id: uid })).message;
  r.after_delete = user((await call('GetUser', { user_id: uid })).user);
  r.delete_again = await call('DeleteUser', { user_id: uid });
  r.no_credentials = await call('GetUser', { user_id: uid }, new grpc.Metadata());
  r.page_size_101 = await call('ListUsers', { page_size: 101 });
  console.log(JSON.stringify(r));
  client.close();
})();
