#include "ckernels.h"

const char *ck_status_string(int status) {
    switch (status) {
    case CK_OK: return "ok";
    case CK_EINVAL: return "invalid argument";
    case CK_ENOSPC: return "workspace too small";
    case CK_EIO: return "input/output error";
    case CK_EFORMAT: return "malformed data";
    default: return "unknown status";
    }
}
