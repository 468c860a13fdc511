// Open MPI for Swift: the communicator, datatypes and constants are C macros (pointers to library
// globals in Open MPI), which Swift cannot import; these functions return them.
#include <mpi.h>

static inline MPI_Comm rn_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype rn_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype rn_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype rn_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Errhandler rn_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Status *rn_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int rn_mpi_success(void) { return MPI_SUCCESS; }
static inline int rn_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline MPI_Request rn_mpi_request_null(void) { return MPI_REQUEST_NULL; }
