/* keygen.c - kaiin-keygen: the CurveZMQ keys of the broker and the services.
     kaiin-keygen <dir> <name>     makes <dir>/<name>.key (its secret key, mode 0600) unless it
                                   exists, and prints the public key
   make run, the compose set-up and the tests list each service's public key in the broker's
   clients file ("<service> <public key>" lines) and give the broker's to every service. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

int
main (int argc, char **argv)
{
    if (argc != 3 || strchr (argv [2], '/')) {
        fprintf (stderr, "usage: kaiin-keygen <dir> <name>\n");
        return 2;
    }
    char path [4096], secret [41] = "", public [41];
    snprintf (path, sizeof path, "%s/%s.key", argv [1], argv [2]);
    mkdir (argv [1], 0700);
    int fd = open (path, O_RDONLY);
    if (fd >= 0) {
        ssize_t got = read (fd, secret, 40);
        close (fd);
        secret [got > 0? got: 0] = 0;
    }
    else {
        if (zmq_curve_keypair (public, secret) != 0) {
            fprintf (stderr, "kaiin-keygen: libzmq has no CURVE\n");
            return 1;
        }
        fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || write (fd, secret, 40) != 40 || close (fd) != 0) {
            fprintf (stderr, "kaiin-keygen: cannot write '%s': %s\n", path, strerror (errno));
            return 1;
        }
    }
    if (strlen (secret) != 40 || zmq_curve_public (public, secret) != 0) {
        fprintf (stderr, "kaiin-keygen: '%s' holds no CURVE secret key\n", path);
        return 1;
    }
    printf ("%s\n", public);
    return 0;
}
