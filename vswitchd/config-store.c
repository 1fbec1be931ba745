/* Placeholder until the config store lands. */
#include "config-store.h"
