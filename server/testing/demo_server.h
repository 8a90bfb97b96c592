// Starts the real semrec server in-process the way `make run` does: the generated test encoder,
// the demo catalog, 127.0.0.1 on a free port, health SERVING once it returns. For tests.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<ServerApp> app, StartDemoServer());
//   auto channel = grpc::CreateChannel(app->address(), grpc::InsecureChannelCredentials());
//
// Thread-safe: a plain function.
#ifndef SEMREC_SERVER_TESTING_DEMO_SERVER_H_
#define SEMREC_SERVER_TESTING_DEMO_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/common/testing/test_paths.h"
#include "server/server_app.h"

namespace semrec {

inline ServerOptions DemoServerOptions() {
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.encoder.model_dir = TestDataDir() + "/encoder";
  options.catalog_file = TestSourceDir() + "/examples/catalog.jsonl";
  return options;
}

// `app_before_load`, when set, receives the server after it listens and before the catalog is
// loaded (health is NOT_SERVING then).
inline absl::StatusOr<std::unique_ptr<ServerApp>> StartDemoServer(
    const std::function<void(ServerApp&)>& app_before_load = nullptr) {
  auto app = ServerApp::Create(DemoServerOptions());
  if (!app.ok()) return app.status();
  if (app_before_load) app_before_load(**app);
  if (auto s = (*app)->LoadCatalog(); !s.ok()) return s;
  return app;
}

}  // namespace semrec

#endif  // SEMREC_SERVER_TESTING_DEMO_SERVER_H_
