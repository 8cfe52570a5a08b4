export { JSON_FILE_STORE_FORMAT, JSON_FILE_STORE_VERSION, JsonFileJobStore, type JsonFileJobStoreOptions } from "./json-file-job-store.js";
