"""The `o2` command line. Talks to etcd only through `store`; never imports controller/executor."""
