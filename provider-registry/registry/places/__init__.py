"""The district's gazetteer: streets and towns (街道/乡镇), their communities (社区), and service centers."""
