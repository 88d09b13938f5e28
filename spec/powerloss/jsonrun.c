#include "powerloss.h"
int pl_json_run(const pl_opts *o, pl_result *res) {
  (void)o;
  (void)res;
  return 0;
}
